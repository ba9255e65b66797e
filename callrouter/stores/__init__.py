"""Redis stores: one module per noun (calls, callbacks, presence), each owning its key prefix."""
