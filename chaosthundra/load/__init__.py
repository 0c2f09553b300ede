"""Load through Locust: SLO probes driven by a Locust master, locally or across workers.

- :mod:`.probes` ``measure_load``, the probe; it runs Locust in child processes only
- :mod:`.plan` what a run asks for and whose credentials a worker signs with
- :mod:`.locustfile` the Locust user class (imported only inside Locust's processes:
  Locust patches sockets and threads with gevent when it is imported)
- :mod:`.results` the figures of a finished run, from the master's result file and
  Locust's stats history
- :mod:`.worker` ``chaosthundra load-worker``

Nothing here imports Locust except :mod:`.locustfile`.
"""
