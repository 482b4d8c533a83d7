import DiffusionCommands

DiffusionCommand.main()
