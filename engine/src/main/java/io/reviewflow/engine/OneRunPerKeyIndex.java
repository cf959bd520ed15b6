package io.reviewflow.engine;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.operaton.bpm.engine.ProcessEngine;
import org.operaton.bpm.engine.impl.cfg.AbstractProcessEnginePlugin;
import org.operaton.bpm.engine.impl.cfg.ProcessEngineConfigurationImpl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/**
 * One running instance per process and business key, enforced by PostgreSQL: a partial unique
 * index on the root executions. Concurrent start-or-correlate calls for one pull request (on one
 * node or on several nodes of a cluster) otherwise start duplicates; with the index the losers'
 * inserts fail, their transaction is rolled back, the REST API answers an opaque 500 and the
 * client's retry then correlates to the winner's instance. Ended instances leave
 * act_ru_execution, so a later run for the key starts normally.
 *
 * <p>Created once the engine has created or updated its schema (a process engine plugin runs
 * after the engine is built), only on PostgreSQL (H2 cannot create partial indexes), under an
 * advisory lock so that nodes starting together do not race. It is a schema addition of ours:
 * re-check it when the engine's schema changes. Off with {@code reviewflow.one-run-per-key=false}.
 */
@Component
@ConditionalOnProperty(name = "reviewflow.one-run-per-key", havingValue = "true", matchIfMissing = true)
public class OneRunPerKeyIndex extends AbstractProcessEnginePlugin {
  static final String INDEX = "reviewflow_one_run_per_key";
  static final String SQL =
      "CREATE UNIQUE INDEX IF NOT EXISTS " + INDEX
          + " ON act_ru_execution (proc_def_key_, business_key_)"
          + " WHERE parent_id_ IS NULL AND super_exec_ IS NULL AND business_key_ IS NOT NULL";
  private static final Logger LOG = LoggerFactory.getLogger(OneRunPerKeyIndex.class);

  @Override
  public void postProcessEngineBuild(ProcessEngine processEngine) {
    ProcessEngineConfigurationImpl configuration =
        (ProcessEngineConfigurationImpl) processEngine.getProcessEngineConfiguration();
    if (!"postgres".equals(configuration.getDatabaseType())) {
      LOG.info("one run per business key: no unique index on {} (PostgreSQL only)",
          configuration.getDatabaseType());
      return;
    }
    DataSource dataSource = configuration.getDataSource();
    try (Connection connection = dataSource.getConnection()) {
      boolean autoCommit = connection.getAutoCommit();
      connection.setAutoCommit(false);
      try (Statement statement = connection.createStatement()) {
        statement.execute("SELECT pg_advisory_xact_lock(hashtext('" + INDEX + "'))");
        statement.execute(SQL);
        connection.commit();
      } catch (SQLException e) {
        connection.rollback();
        throw e;
      } finally {
        connection.setAutoCommit(autoCommit);
      }
      LOG.info("one run per business key: unique index {} on act_ru_execution in place", INDEX);
    } catch (SQLException e) {
      // e.g. two running instances already share a key: the engine runs, without the guard
      LOG.error(
          "one run per business key: could not create the unique index {} ({}); concurrent "
              + "starts for one key may start duplicates until it exists",
          INDEX, e.getMessage());
    }
  }
}
