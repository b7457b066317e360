"""The four steps of a loop, each a function of the run's state: SELECT, LABEL, TRAIN, INFER.
Only the runner calls them, in that order."""
