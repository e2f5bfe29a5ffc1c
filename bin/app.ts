#!/usr/bin/env node
// The CDK app: `npx cdk synth` / `npx cdk deploy` (cdk.json runs this with tsx). The stacks live in lib/.
import { App } from 'aws-cdk-lib';
import { addPaymentsStacks } from '../lib/app';

addPaymentsStacks(new App());
