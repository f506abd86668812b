from archbudget.cli import main

main()
