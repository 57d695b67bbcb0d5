"""Example DolphinScheduler workflows built with OpenFeat's tasks: the flights pipeline and the SQL route."""
