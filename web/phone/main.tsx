// The softphone example (/app/phone): placeholder until the dial pad lands.
import { render } from 'preact';
render(<p>Softphone example: coming soon.</p>, document.getElementById('root')!);
