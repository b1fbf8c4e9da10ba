export * from './measurement-router';
