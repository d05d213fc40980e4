"""convlstm-ae: video anomaly detection with the ConvLSTM auto-encoder (Luo et al., ICME 2017)."""
