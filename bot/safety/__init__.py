"""The crisis check that runs on every message before anything else: sure signs
(``patterns``), a learned model (``model``) trained from ``training/crisis/``
(``collection``, ``training``), combined in ``check``."""
