"""Finch's agent core: events, the model boundary, tools and the loop. No UI, web or database imports."""
