"""`toxbridge serve`: the ROUTER app, the run queue, request policy and run execution."""
