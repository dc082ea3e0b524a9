import sample from '../../tps.config.js';

const api = sample.services.api!;

/** The sample catalog with the api service's databases (an Aurora cluster and an RDS instance). */
export const catalogWithDatabases = {
  ...sample,
  services: {
    ...sample.services,
    api: {
      ...api,
      databases: [
        { kind: 'aurora-cluster' as const, identifier: 'shop-aurora' },
        { kind: 'rds-instance' as const, identifier: 'shop-legacy' },
      ],
    },
  },
};
