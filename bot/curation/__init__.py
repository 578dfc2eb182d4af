"""Staff closing content gaps: the questions the bot could not answer grouped by meaning
(groups.py), and the fixes made from them, recorded and undone (service.py)."""
