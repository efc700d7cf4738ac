"""Grid emergency mobilisation (网格应急): grids and their teams, call-outs, answers and
the muster board."""
