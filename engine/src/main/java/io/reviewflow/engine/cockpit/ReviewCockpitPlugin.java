package io.reviewflow.engine.cockpit;

import java.util.Set;
import org.operaton.bpm.cockpit.plugin.spi.impl.AbstractCockpitPlugin;

/**
 * A Cockpit page for one review, running or finished: {@code #/review/<process instance id>}.
 *
 * <p>The community Cockpit only shows running process instances (its process instance page
 * redirects a finished one to the definition, whose instance list is runtime-only too; the
 * history views were enterprise-only). This plugin adds one route that reads the history REST
 * API: business key, state, start and end time, and the diagram (Cockpit's own BPMN viewer)
 * with the activities the run passed. Its only asset is {@code
 * plugin-webapp/reviewflow/app/plugin.js}, served by {@link ReviewCockpitPluginRootResource};
 * the page calls only the engine's own (session-authenticated) REST API.
 */
public class ReviewCockpitPlugin extends AbstractCockpitPlugin {
  public static final String ID = "reviewflow";

  @Override
  public String getId() {
    return ID;
  }

  @Override
  public Set<Class<?>> getResourceClasses() {
    return Set.of(ReviewCockpitPluginRootResource.class);
  }
}
