"""Pieces shared by the training loops (``labelnoise.train``, ``labelnoise.train_coteaching``):
run directories, data loaders, evaluation, checkpoints, training dynamics, detection, outputs."""
