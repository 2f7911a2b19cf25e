"""How runtimes behave: weight formats and what runs them, engine memory budgets and kernel efficiency."""
