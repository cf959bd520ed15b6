package io.reviewflow.engine.cockpit;

import jakarta.ws.rs.Path;
import org.operaton.bpm.cockpit.plugin.resource.AbstractCockpitPluginRootResource;

/** Serves the plugin's asset ({@code /api/cockpit/plugin/reviewflow/static/app/plugin.js}). */
@Path("plugin/" + ReviewCockpitPlugin.ID)
public class ReviewCockpitPluginRootResource extends AbstractCockpitPluginRootResource {
  public ReviewCockpitPluginRootResource() {
    super(ReviewCockpitPlugin.ID);
  }
}
