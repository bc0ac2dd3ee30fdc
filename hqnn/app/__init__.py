"""The training application: the ``hqnn`` command (train, evaluate, predict the chapter's CNN on MNIST), its
recipe config, data, models, training loop, checkpoints, plots and data-parallel launch. It imports the engine
(``hqnn``); the engine never imports it."""
