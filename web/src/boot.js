// The page's script: it asks for the first load's data, then runs the app (which the page has
// already fetched and compiled beside it, as a module preload). The app runs once the data is
// asked for, so that its start-up overlaps the server's answer instead of delaying the request.

import "./style.css";
import { requestFirstLoad } from "./firstload.js";

requestFirstLoad().then(() => import("./app.js"));
