from alcli.cli import main

main()
