"""What every stage stands on: the work directory and its files (``workdir``), the step contract
(``step``) and the executor its tasks run on (``executor``), where WORK and OUT live
(``storage``), the run's lock, the config and its checks (``config``, ``train_config``,
``config_check``), the errors, progress, and text, value and secret helpers. Imports nothing of
the stages."""
