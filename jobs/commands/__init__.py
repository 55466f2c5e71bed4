"""One module per ``hadoop-rnn`` subcommand: ``add_arguments(parser)`` and ``main(args)``.

A command module only parses: it turns the Namespace into the arguments of one API call
(:mod:`jobs.preparing.api`, :mod:`jobs.training`, :mod:`jobs.scoring`, :mod:`jobs.generating`,
:mod:`jobs.plotting`, :mod:`jobs.demo`), prints the result and returns an exit code. It
imports the API inside ``main``, so building the parser stays cheap.
"""
