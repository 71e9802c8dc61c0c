"""When things run, and the command line that runs them."""
