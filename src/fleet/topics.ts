// The site's topics. Everything under facegate/site/<site>/ so one bridge line
// (`topic facegate/site/# both 1`) carries a whole site between brokers.
export function siteTopics(site: string) {
  const base = `facegate/site/${site}`;
  return {
    base,
    person: (uuid: string) => `${base}/gallery/person/${uuid}`,
    people: `${base}/gallery/person/+`,
    status: (controller: string) => `${base}/controller/${controller}/status`,
    statuses: `${base}/controller/+/status`,
    /** A controller's own marker: when it comes back, the retained records before it have all arrived. */
    sync: (controller: string) => `${base}/sync/${controller}`,
  };
}

export function personUuidOf(topic: string, base: string): string | undefined {
  const prefix = `${base}/gallery/person/`;
  return topic.startsWith(prefix) ? topic.slice(prefix.length) : undefined;
}

export function controllerOf(topic: string, base: string): string | undefined {
  const m = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/controller/([^/]+)/status$`).exec(topic);
  return m?.[1];
}
