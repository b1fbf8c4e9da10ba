export * from './hash-ring';
export * from './measurement-router';
export * from './plan-moves';
export * from './routing-table';
export * from './database-routers';
export * from './moving-router';
