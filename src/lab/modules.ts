import type { LabModule } from './module.js';
import { pveModule } from './pve/module.js';
import { talosModule } from './talos/module.js';
import { helmModule } from './helm/module.js';
import { kubeModule } from './kube/module.js';
import { httpModule } from './http/module.js';
import { appsModule } from './apps/module.js';

/** Every lab module, in start order (the Kubernetes API first: helm needs its URL). */
export const LAB_MODULES: readonly LabModule[] = [kubeModule, pveModule, talosModule, helmModule, httpModule, appsModule];
