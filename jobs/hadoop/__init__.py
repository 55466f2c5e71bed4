"""Running MRJobs on mrjob's runners, and what a job asks of a Hadoop cluster.

* :mod:`jobs.hadoop.launch`     run an MRJob on the inline, local or hadoop runner from Python
* :mod:`jobs.hadoop.webhdfs`    mrjob's HDFS operations over WebHDFS (no ``hadoop fs`` JVM a call)
* :mod:`jobs.hadoop.resources`  reducers, map tasks, container memory and uber jobs from |θ|
"""
