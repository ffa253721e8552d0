"""`ChatModel` implementations that live outside the agent core."""
