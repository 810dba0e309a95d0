from gensci.cli import main

main()
