// Boots the page the way Kong Manager's src/main.ts and registerGlobalComponents.ts do: Kongponents
// installed globally, Kong's i18n, the VueFormGenerator component and the FORMS_API_KEY provider
// (used by the scope pickers), a vue-router, and the gateway info read from the Admin API's `/`.
import "@kong/kongponents/dist/style.css";
import "@kong-ui-public/entities-shared/dist/style.css";
import "@kong-ui-public/forms/dist/style.css";
import "@kong-ui-public/entities-plugins/dist/style.css";
import Kongponents from "@kong/kongponents";
import { FORMS_API_KEY, VueFormGenerator } from "@kong-ui-public/forms";
import { createI18n, Translation } from "@kong-ui-public/i18n";
import axios from "axios";
import { createApp, h } from "vue";
import { createRouter, createWebHistory, RouterView } from "vue-router";
import PluginFormPage from "./PluginFormPage.vue";

const adminApiUrl = new URLSearchParams(location.search).get("adminApi");
if (adminApiUrl === null) throw new Error("open the page with ?adminApi=<Kong Admin API URL>");

// Kong Manager's apiService: every Admin API call carries the session cookie.
const adminApi = axios.create({ baseURL: adminApiUrl, withCredentials: true });
const { data: info } = await adminApi.get<{ version: string; edition?: "community" | "enterprise" }>("/");

const router = createRouter({
  history: createWebHistory(),
  routes: [{ path: "/:path(.*)*", component: PluginFormPage, props: { apiBaseUrl: adminApiUrl, gatewayInfo: { edition: info.edition ?? "community", version: info.version } } }],
});

const app = createApp({ render: () => h(RouterView) });
app.use(Translation.install, { i18n: createI18n("en-us", {}, { isGlobal: true }) });
app.use(router);
app.use(Kongponents);
app.component("VueFormGenerator", VueFormGenerator);
app.provide(FORMS_API_KEY, {
  getOne: (entity: string, id: string) => adminApi.get(`/${entity}/${id}`),
  getAll: (entity: string, params: Record<string, string | number>) => adminApi.get(`/${entity}`, { params }),
});
await router.isReady();
app.mount("#app");
