package io.reviewflow.engine;

import org.operaton.bpm.engine.rest.security.auth.ProcessEngineAuthenticationFilter;
import org.operaton.bpm.engine.rest.security.auth.impl.HttpBasicAuthenticationProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * HTTP Basic authentication on the REST API (engine users, e.g. the admin user), switched on
 * with {@code reviewflow.rest-auth=true} (env REVIEWFLOW_ENGINE_REST_AUTH). Without it the REST
 * API is open, which is only acceptable on the loopback interface. {@code GET
 * /engine-rest/engine} stays open (the filter's own exception): it is the readiness probe.
 */
@Configuration
@ConditionalOnProperty(name = "reviewflow.rest-auth", havingValue = "true")
public class RestAuthConfiguration {
  @Bean
  public FilterRegistrationBean<ProcessEngineAuthenticationFilter> restAuthenticationFilter() {
    FilterRegistrationBean<ProcessEngineAuthenticationFilter> registration =
        new FilterRegistrationBean<>(new ProcessEngineAuthenticationFilter());
    registration.setName("reviewflow-rest-auth");
    registration.addUrlPatterns("/engine-rest/*");
    registration.addInitParameter(
        ProcessEngineAuthenticationFilter.AUTHENTICATION_PROVIDER_PARAM,
        HttpBasicAuthenticationProvider.class.getName());
    return registration;
  }
}
