// The engine worker: owns tfjs and the engine; the page talks to it through Comlink.
import * as Comlink from 'comlink';
import { EngineService } from './service.ts';

Comlink.expose(new EngineService());
