"""hadoop-rnn's MapReduce jobs (one MRJob class per module) and the drivers that run them."""
