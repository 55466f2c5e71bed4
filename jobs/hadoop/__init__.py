"""Running MRJobs on mrjob's runners, what a job asks of a Hadoop cluster, and reaching its HDFS.

* :mod:`jobs.hadoop.launch`     run an MRJob on the inline, local or hadoop runner from Python
* :mod:`jobs.hadoop.webhdfs`    mrjob's HDFS operations over WebHDFS, ``file://`` as local files (no ``hadoop fs`` JVM a call)
* :mod:`jobs.hadoop.resources`  reducers, map tasks, container memory and uber jobs from |θ|
* :mod:`jobs.hadoop.cluster_conf`  the cluster's client configuration (``HADOOP_CONF_DIR``):
  where an ``hdfs://`` URI's NameNodes serve WebHDFS, HTTPS, the security mode
* :mod:`jobs.hadoop.namenodes`  a WebHDFS client that fails over between the NameNodes
* :mod:`jobs.hadoop.kerberos`   SPNEGO from the ticket cache (``NoTicket``: exit 5), the CAs of HTTPS
* :mod:`jobs.hadoop.fs_shell`   the driver's HDFS operations through ``hadoop fs`` where WebHDFS
  cannot be reached
"""
