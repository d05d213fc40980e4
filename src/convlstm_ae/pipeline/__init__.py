"""The jobs both the CLI and the experiments run: train a run (hold-out and alarm
calibration included), score videos into a score table or error records, evaluate them."""
