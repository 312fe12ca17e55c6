from roomline.cli import main

main()
