"""Models: ConvLSTM-AE (the paper) and the Conv-AE baseline."""
