"""The paper's experiments, end to end: data, training, scoring, tables and figures."""
