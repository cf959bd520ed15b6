"""Pure stage functions: typed inputs to typed outputs, no I/O."""
