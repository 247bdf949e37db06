package ringwatch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.SettingValueParsers;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Runs an embedded Neo4j Community DBMS that is reachable over Bolt with auth,
 * i.e. behaves like a real Neo4j server for drivers. Configured by env vars
 * (see scripts/neo4j.sh). Prints "RINGWATCH_NEO4J_READY" once the neo4j
 * password is set and a query has run, so callers can wait on that line.
 */
public final class Neo4jLauncher {

    public static final String READY_LINE = "RINGWATCH_NEO4J_READY";

    private static String env(String name, String dflt) {
        String v = System.getenv(name);
        return (v == null || v.isBlank()) ? dflt : v.trim();
    }

    private static void log(String msg) {
        System.out.println("[ringwatch-neo4j] " + msg);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(env("NEO4J_HOME_DIR", ".local/neo4j")).toAbsolutePath().normalize();
        Path data = Path.of(env("NEO4J_DATA_DIR", home.resolve("data").toString())).toAbsolutePath().normalize();
        Path logs = home.resolve("logs");
        String host = env("NEO4J_HOST", "127.0.0.1");
        int port = Integer.parseInt(env("NEO4J_PORT", "7688"));
        String password = env("NEO4J_PASSWORD", "ringwatch-test-password");
        long pageCache = SettingValueParsers.BYTES.parse(env("NEO4J_PAGECACHE", "1g"));
        // 0 means "no timeout", which is Neo4j's own default.
        Duration txTimeout = SettingValueParsers.DURATION.parse(env("NEO4J_TX_TIMEOUT", "0s"));
        String confFile = env("NEO4J_CONF_FILE", "");

        Files.createDirectories(data);
        Files.createDirectories(logs);

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home);
        // A graph filling up from empty diverges from its statistics every few seconds, and
        // Neo4j then replans each of ingest's statements (10 s apart by default): 9-12% of
        // its CPU during an ingest. Ringwatch's statements seek by unique key whatever the
        // counts say, so a plan may live an hour (docs/performance.md, "Neo4j's side of
        // ingest"). Set before the conf file, which may override it.
        builder.setConfig(GraphDatabaseSettings.cypher_min_replan_interval, Duration.ofHours(1));
        if (!confFile.isEmpty()) {
            builder.loadPropertiesFromFile(Path.of(confFile));
        }
        builder
            .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
            .setConfig(GraphDatabaseSettings.data_directory, data)
            .setConfig(GraphDatabaseSettings.logs_directory, logs)
            .setConfig(GraphDatabaseSettings.auth_enabled, true)
            .setConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
            .setConfig(GraphDatabaseSettings.transaction_timeout, txTimeout)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
            .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
            // Usage reporting is on by default in Community and would try to reach the internet.
            .setConfig(GraphDatabaseSettings.udc_enabled, false)
            // Bolt's netty event loops otherwise idle 5 s each on shutdown (~10 s per stop),
            // which makes restart-heavy fault tests slow. Open connections are closed anyway.
            .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
            .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5));

        long t0 = System.nanoTime();
        log("starting: home=" + home + " data=" + data + " bolt=" + host + ":" + port
            + " pagecache=" + pageCache + " tx_timeout=" + txTimeout);
        DatabaseManagementService dbms = builder.build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("shutdown requested");
            try {
                dbms.shutdown();
                log("shutdown complete");
            } catch (Throwable t) {
                log("shutdown failed: " + t);
            } finally {
                stopped.countDown();
            }
        }, "ringwatch-neo4j-shutdown"));

        try {
            setPassword(dbms, password);
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            db.executeTransactionally("RETURN 1");
        } catch (Throwable t) {
            log("startup failed: " + t);
            t.printStackTrace(System.out);
            System.exit(3); // runs the shutdown hook
        }

        log(String.format("%s bolt://%s:%d startup_ms=%d", READY_LINE, host, port,
            (System.nanoTime() - t0) / 1_000_000));
        stopped.await();
    }

    /**
     * The embedded API runs with full privileges, so the password can be set
     * through the system database. Neo4j rejects setting a user's password to
     * its current value, which is the normal case on every restart, so that
     * specific error is treated as success.
     */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            log("password for user neo4j set");
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage()) + " " + String.valueOf(e.getCause());
            if (msg.toLowerCase().contains("old password and new password cannot be the same")) {
                log("password for user neo4j already set");
            } else {
                throw e;
            }
        }
    }
}
