from drivelake.cli import main

main()
