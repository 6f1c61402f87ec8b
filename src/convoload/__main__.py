from convoload.cli import main

main()
