/** deploy/k8s/monitoring/prometheusrule.yaml's text for alerts.yml's text (scripts/prometheus-rule.mjs). */
export function prometheusRule(alertsText: string): string;
