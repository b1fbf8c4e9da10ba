export * from './influx-response';
