from flashctl.cli import main

main()
