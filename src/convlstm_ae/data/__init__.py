"""Data: synthetic Moving-MNIST, frame sources and clip sampling."""
