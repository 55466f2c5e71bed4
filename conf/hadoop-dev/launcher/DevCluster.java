import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.hdfs.MiniDFSNNTopology;
import org.apache.hadoop.hdfs.server.namenode.NameNode;
import org.apache.hadoop.minikdc.MiniKdc;
import org.apache.hadoop.security.UserGroupInformation;

/**
 * The dev cluster's HDFS shapes that Hadoop's CLI mini cluster cannot start (see
 * scripts/hadoop-dev-cluster): one MiniDFSCluster with one DataNode and no YARN, and
 *
 *   --kerberos      a MiniKdc; Kerberos authentication, block access tokens, SASL data
 *                   transfer protection and HTTPS_ONLY (what lets a DataNode run secure
 *                   without privileged ports), WebHDFS over SPNEGO;
 *   --http          (with --kerberos) WebHDFS over plain HTTP; the DataNode then needs
 *                   privileged ports, which ignore.secure.ports.for.testing waives here;
 *   --ha            two NameNodes of nameservice "rnn-ns" (nn1 active);
 *   --no-webhdfs    WebHDFS unreachable: the client configuration names NameNode HTTP
 *                   addresses nothing listens on (Hadoop 3's NameNode serves WebHDFS whatever
 *                   dfs.webhdfs.enabled says, so "off" is in practice a firewalled port).
 *
 * Usage: DevCluster STATE [--kerberos [--http]] [--ha] [--no-webhdfs]. STATE/conf/ssl-server.xml and
 * ssl-client.xml (with --kerberos) are written by the script before, and STATE/conf must be on
 * the classpath. When up, it writes the client configuration (STATE/conf/core-site.xml,
 * hdfs-site.xml), with --kerberos STATE/krb5.conf and the keytabs hdfs.keytab and rnn.keytab
 * (the user principal rnn), and last STATE/ready. Then it serves requests written to
 * STATE/control ("failover": the active NameNode becomes standby, the other active), answering
 * each in STATE/control.done, until killed.
 */
public class DevCluster {
  static final String NAMESERVICE = "rnn-ns";
  static final String USER = "rnn";

  public static void main(String[] args) throws Exception {
    File state = new File(args[0]).getAbsoluteFile();
    List<String> flags = List.of(args).subList(1, args.length);
    boolean kerberos = flags.contains("--kerberos"), ha = flags.contains("--ha");
    boolean webhdfs = !flags.contains("--no-webhdfs");
    boolean https = kerberos && !flags.contains("--http");
    File confDir = new File(state, "conf");

    HdfsConfiguration conf = new HdfsConfiguration();
    conf.setInt("dfs.replication", 1);
    // the deleted-block scrubber's wake-ups (conf/hadoop-dev/cluster.properties says why)
    conf.setLong("dfs.namenode.block.deletion.unlock.interval.ms", 250);
    conf.set("hadoop.proxyuser." + System.getProperty("user.name") + ".hosts", "*");
    Configuration client = new Configuration(false);
    if (kerberos) {
      client.set("hadoop.security.authentication", "kerberos");
      String realm = startKdc(state, conf, https);
      client.set("dfs.namenode.kerberos.principal", "hdfs/localhost@" + realm);
      client.set("dfs.data.transfer.protection", "authentication");
      client.set("dfs.http.policy", https ? "HTTPS_ONLY" : "HTTP_ONLY");
      client.set("dfs.client.https.keystore.resource", "ssl-client.xml");
      // a job client names the renewer of its HDFS delegation tokens, also in Hadoop's
      // local framework (no ResourceManager here to renew them)
      client.set("yarn.resourcemanager.principal", "hdfs/localhost@" + realm);
    }

    MiniDFSCluster.Builder builder = new MiniDFSCluster.Builder(conf, new File(state, "data"))
        .numDataNodes(1).format(true);
    if (ha) {
      builder.nnTopology(new MiniDFSNNTopology().addNameservice(
          new MiniDFSNNTopology.NSConf(NAMESERVICE)
              .addNN(new MiniDFSNNTopology.NNConf("nn1"))
              .addNN(new MiniDFSNNTopology.NNConf("nn2"))));
    }
    MiniDFSCluster cluster = builder.build();
    if (ha) {
      cluster.transitionToActive(0);
    }
    cluster.waitActive();

    String[] nnIds = ha ? new String[] {"nn1", "nn2"} : new String[] {""};
    String suffix = ha ? "." + NAMESERVICE + "." : "";
    for (int i = 0; i < nnIds.length; i++) {
      NameNode nn = cluster.getNameNode(i);
      String key = suffix + nnIds[i];
      client.set("dfs.namenode.rpc-address" + key, address(nn.getNameNodeAddress()));
      if (nn.getHttpAddress() != null) {
        client.set("dfs.namenode.http-address" + key,
            webhdfs ? address(nn.getHttpAddress()) : "localhost:" + closedPort());
      }
      if (nn.getHttpsAddress() != null) {
        client.set("dfs.namenode.https-address" + key,
            webhdfs ? address(nn.getHttpsAddress()) : "localhost:" + closedPort());
      }
    }
    if (ha) {
      client.set("fs.defaultFS", "hdfs://" + NAMESERVICE);
      client.set("dfs.nameservices", NAMESERVICE);
      client.set("dfs.ha.namenodes." + NAMESERVICE, "nn1,nn2");
      client.set("dfs.client.failover.proxy.provider." + NAMESERVICE,
          "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider");
    } else {
      client.set("fs.defaultFS", "hdfs://" + address(cluster.getNameNode(0).getNameNodeAddress()));
    }
    client.set("dfs.replication", "1");
    client.set("ipc.client.connect.max.retries", "3");
    client.set("ipc.client.connect.retry.interval", "500");

    // what every user of a real cluster finds there: /tmp for all, a home directory
    FileSystem fs = cluster.getFileSystem(0);
    fs.mkdirs(new org.apache.hadoop.fs.Path("/tmp"));
    fs.setPermission(new org.apache.hadoop.fs.Path("/tmp"), new FsPermission((short) 01777));
    org.apache.hadoop.fs.Path home = new org.apache.hadoop.fs.Path("/user/" + USER);
    fs.mkdirs(home);
    fs.setOwner(home, USER, USER);

    writeXml(client, new File(confDir, "core-site.xml"));
    writeXml(client, new File(confDir, "hdfs-site.xml"));
    Files.writeString(new File(state, "ready").toPath(), "up\n");
    System.err.println("DevCluster: up");
    serveControl(cluster, state, ha);
  }

  /** Starts the KDC, writes the keytabs and STATE/krb5.conf, sets the servers' security. */
  static String startKdc(File state, Configuration conf, boolean https) throws Exception {
    File kdcDir = new File(state, "kdc");
    kdcDir.mkdirs();
    Properties kdcConf = MiniKdc.createConf();
    // short tickets (renewable for a day), so a cron run outlives its first ticket in a test
    kdcConf.setProperty(MiniKdc.MAX_TICKET_LIFETIME,
        System.getProperty("devcluster.ticket.lifetime.ms", "86400000"));
    kdcConf.setProperty(MiniKdc.MAX_RENEWABLE_LIFETIME, "86400000");
    MiniKdc kdc = new MiniKdc(kdcConf, kdcDir);
    kdc.start();
    String realm = kdc.getRealm();
    File serviceKeytab = new File(state, "hdfs.keytab");
    kdc.createPrincipal(serviceKeytab, "hdfs/localhost", "HTTP/localhost");
    kdc.createPrincipal(new File(state, "rnn.keytab"), USER);
    // for MIT kinit and the Python client: no reverse-DNS canonicalization of "localhost"
    Files.writeString(new File(state, "krb5.conf").toPath(), String.join("\n",
        "[libdefaults]",
        "  default_realm = " + realm,
        "  udp_preference_limit = 1",
        "  rdns = false",
        "  dns_canonicalize_hostname = false",
        "  dns_lookup_kdc = false",
        "  forwardable = true",
        "[realms]",
        "  " + realm + " = {",
        "    kdc = localhost:" + kdc.getPort(),
        "  }",
        ""));
    String principal = "hdfs/localhost@" + realm;
    conf.set("hadoop.security.authentication", "kerberos");
    conf.set("dfs.namenode.kerberos.principal", principal);
    conf.set("dfs.namenode.keytab.file", serviceKeytab.getPath());
    conf.set("dfs.datanode.kerberos.principal", principal);
    conf.set("dfs.datanode.keytab.file", serviceKeytab.getPath());
    conf.set("dfs.web.authentication.kerberos.principal", "HTTP/localhost@" + realm);
    conf.set("dfs.web.authentication.kerberos.keytab", serviceKeytab.getPath());
    // WebHDFS's filter takes its type from these (default simple: anyone, unauthenticated)
    conf.set("hadoop.http.authentication.type", "kerberos");
    conf.set("hadoop.http.authentication.kerberos.principal", "HTTP/localhost@" + realm);
    conf.set("hadoop.http.authentication.kerberos.keytab", serviceKeytab.getPath());
    conf.setBoolean("hadoop.http.authentication.simple.anonymous.allowed", false);
    conf.setBoolean("dfs.block.access.token.enable", true);
    conf.set("dfs.data.transfer.protection", "authentication");
    conf.set("dfs.http.policy", https ? "HTTPS_ONLY" : "HTTP_ONLY");
    // a secure DataNode needs SASL with HTTPS_ONLY, or privileged ports; the dev cluster
    // waives the latter for --http
    conf.setBoolean("ignore.secure.ports.for.testing", !https);
    conf.set("dfs.namenode.https-address", "localhost:0");
    conf.set("dfs.datanode.https.address", "localhost:0");
    conf.set("dfs.client.https.keystore.resource", "ssl-client.xml");
    conf.set("dfs.https.server.keystore.resource", "ssl-server.xml");
    conf.setInt("ipc.client.connect.max.retries.on.sasl", 10);
    UserGroupInformation.setConfiguration(conf);
    UserGroupInformation.loginUserFromKeytab(principal, serviceKeytab.getPath());
    return realm;
  }

  /** A local port nothing listens on (connecting to it is refused). */
  static int closedPort() throws Exception {
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  static String address(InetSocketAddress a) {
    return "localhost:" + a.getPort();
  }

  static void writeXml(Configuration conf, File file) throws Exception {
    File tmp = new File(file.getPath() + ".tmp");
    try (OutputStream out = new FileOutputStream(tmp)) {
      conf.writeXml(out);
    }
    Files.move(tmp.toPath(), file.toPath(), StandardCopyOption.REPLACE_EXISTING);
  }

  /** Answers requests in STATE/control until the JVM is killed. */
  static void serveControl(MiniDFSCluster cluster, File state, boolean ha) throws Exception {
    Path control = new File(state, "control").toPath();
    Path done = new File(state, "control.done").toPath();
    while (true) {
      Thread.sleep(100);
      if (!Files.exists(control)) {
        continue;
      }
      String request = Files.readString(control, StandardCharsets.UTF_8).trim();
      Files.delete(control);
      String answer;
      if (request.equals("failover") && ha) {
        int active = cluster.getNamesystem(0).isInStandbyState() ? 1 : 0;
        long t0 = System.nanoTime();
        cluster.transitionToStandby(active);
        cluster.transitionToActive(1 - active);
        answer = String.format("nn%d active (was nn%d; %.3f s)", 2 - active, active + 1,
            (System.nanoTime() - t0) / 1e9);
      } else {
        answer = "error: unknown request " + request + (ha ? "" : " (no HA)");
      }
      Files.writeString(done, answer + "\n");
      System.err.println("DevCluster: " + request + ": " + answer);
    }
  }
}
