export * from './job-model';
