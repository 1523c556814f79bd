/**
 * @peculiar/x509, loaded with the reflect polyfill its decorators need. Import x509 from here, never
 * directly, so the polyfill is always in place first.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
