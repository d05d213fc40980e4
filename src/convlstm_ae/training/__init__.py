"""Training: losses, the LightningModule and the fit loop."""
